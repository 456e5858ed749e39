// Counters of one server process, read by the benchmark over HTTP (GET /stats).
export const stats = {
  ticks: 0, // room steps
  callbacks: 0, // fixed-timestep timer callbacks that ran at least one step
  lateCallbacks: 0, // those that began more than 10 ms later than one step after the one before
  patches: 0, // state patches broadcast (one per room tick)
  inputs: 0, // inputs accepted
  badMessages: 0, // messages answered with an error
  roomsCreated: 0,
  roomsOpen: 0,
};
