// The Colyseus peer server: `node server.mjs --port 2567 [--host 127.0.0.1]`.
// Room "arena" (room.mjs); GET /stats answers the process's counters as JSON (stats.mjs).
import { parseArgs } from "node:util";
import { Server } from "@colyseus/core";
import { WebSocketTransport } from "@colyseus/ws-transport";
import { ArenaRoom } from "./room.mjs";
import { stats } from "./stats.mjs";

const { values } = parseArgs({ options: { port: { type: "string", default: "2567" }, host: { type: "string", default: "127.0.0.1" } } });
const port = Number(values.port);
const server = new Server({
  transport: new WebSocketTransport(),
  greet: false,
  express: (app) => {
    app.get("/stats", (_req, res) => res.json({ ...stats, rssKiB: Math.round(process.memoryUsage.rss() / 1024) }));
  },
});
server.define("arena", ArenaRoom);
await server.listen(port, values.host);
console.log(JSON.stringify({ listening: port }));
