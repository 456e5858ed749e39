import { useState } from "react";
import { opsApi } from "../../features/ops/opsApi";
import { loadFailed, playerKicked, roomsLoaded, serversLoaded, type AdminPlayer, type AdminRoom,
  type AdminServer } from "../../features/ops/opsSlice";
import { useAppDispatch, useAppSelector } from "../../store";
import { ago, OpsPage, opsProblem, seconds, TableWrap, usePoll, useServiceToken } from "./common";

/** `/ops/servers`: the live game servers, each one's rooms and players, and the kick. */
export function ServersPage() {
  const dispatch = useAppDispatch();
  const token = useServiceToken();
  const servers = useAppSelector((s) => s.ops.servers);
  const error = useAppSelector((s) => s.ops.errors.servers);
  const updatedAt = useAppSelector((s) => s.ops.updatedAt.servers);
  const [auto, setAuto] = useState(true);
  const [open, setOpen] = useState<string | null>(null);
  const refresh = usePoll(async () => {
    try {
      dispatch(serversLoaded(await opsApi.servers(token)));
    } catch (err) {
      dispatch(loadFailed({ section: "servers", message: opsProblem(err, "matchmaker") }));
    }
  }, auto);
  return (
    <OpsPage title="Game servers" updatedAt={updatedAt} auto={auto} onAuto={setAuto} onRefresh={refresh}>
      {error && <p role="alert">{error}</p>}
      {servers === null && !error && <p>Loading…</p>}
      {servers && servers.length === 0 && <p>No game server is registered.</p>}
      {servers && servers.length > 0 && (
        <TableWrap label="Live game servers">
          <table className="ops-table">
            <caption className="visually-hidden">Live game servers</caption>
            <thead>
              <tr><th scope="col">Server</th><th scope="col">Region</th><th scope="col">Modes</th><th scope="col">Rooms</th>
                <th scope="col">Players</th><th scope="col">State</th><th scope="col">Last heartbeat</th><th scope="col"><span className="visually-hidden">Rooms</span></th></tr>
            </thead>
            <tbody>
              {servers.map((s) => (
                <tr key={s.server_id} data-testid="server-row">
                  <th scope="row"><code>{s.server_id}</code></th>
                  <td>{s.region}</td>
                  <td>{s.modes.join(", ")}</td>
                  <td>{s.rooms}</td>
                  <td>{s.players} / {s.capacity}</td>
                  <td>{s.draining ? <span className="badge ops-warn">draining</span> : <span className="badge ops-ok">taking matches</span>}</td>
                  <td>{ago(s.last_seen)}</td>
                  <td>
                    <button type="button" className="button-secondary" aria-expanded={open === s.server_id}
                      aria-controls={`ops-rooms-${s.server_id}`}
                      onClick={() => setOpen(open === s.server_id ? null : s.server_id)}>
                      {open === s.server_id ? "Hide rooms" : "Show rooms"}
                      <span className="visually-hidden"> of {s.server_id}</span>
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      {open && servers?.some((s) => s.server_id === open) && (
        <ServerRooms server={servers.find((s) => s.server_id === open)!} auto={auto} />
      )}
    </OpsPage>
  );
}

function ServerRooms({ server, auto }: { server: AdminServer; auto: boolean }) {
  const dispatch = useAppDispatch();
  const token = useServiceToken();
  const rooms = useAppSelector((s) => s.ops.rooms[server.server_id]);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState("");
  usePoll(async () => {
    try {
      const body = await opsApi.rooms(token, server.server_id);
      dispatch(roomsLoaded({ serverId: server.server_id, rooms: body.rooms }));
      setError(null);
    } catch (err) {
      setError(opsProblem(err, "gateway"));
    }
  }, auto);
  return (
    <section className="ops-rooms" id={`ops-rooms-${server.server_id}`} aria-labelledby="ops-rooms-title">
      <h2 id="ops-rooms-title">Rooms of <code>{server.server_id}</code></h2>
      <p role="status" className="status-message">{notice}</p>
      {error && <p role="alert">{error}</p>}
      {rooms === undefined && !error && <p>Loading…</p>}
      {rooms && rooms.length === 0 && <p>This server has no rooms.</p>}
      {rooms?.map((room) => (
        <RoomCard key={room.match_id} serverId={server.server_id} room={room} onKicked={setNotice} />
      ))}
    </section>
  );
}

function RoomCard({ serverId, room, onKicked }: { serverId: string; room: AdminRoom; onKicked: (text: string) => void }) {
  const [kicking, setKicking] = useState<AdminPlayer | null>(null);
  return (
    <article className="card ops-room" data-testid="room-card" aria-labelledby={`ops-room-${room.match_id}`}>
      <h3 id={`ops-room-${room.match_id}`}>Match <code>{room.match_id}</code></h3>
      <p className="ops-room-facts">
        <span>{room.mode}</span> · <span>{room.state}</span> · <span>tick {room.tick} at {room.tick_hz} Hz</span> ·{" "}
        <span>up {seconds(room.age_s)}</span> ·{" "}
        <span className={room.late_ticks > 0 ? "ops-late" : undefined}>{room.late_ticks} late ticks</span>
        {room.skipped_ticks > 0 && <> · <span className="ops-late">{room.skipped_ticks} skipped</span></>}
      </p>
      {room.players.length === 0 ? <p>No players seated.</p> : (
        <TableWrap label={`Players of match ${room.match_id}`}>
          <table className="ops-table">
            <caption className="visually-hidden">Players of match {room.match_id}</caption>
            <thead>
              <tr><th scope="col">Seat</th><th scope="col">Player</th><th scope="col">Team</th><th scope="col">Connection</th>
                <th scope="col">Score</th><th scope="col">Inputs waiting</th><th scope="col">Last input / applied</th>
                <th scope="col">Send backlog</th><th scope="col"><span className="visually-hidden">Kick</span></th></tr>
            </thead>
            <tbody>
              {room.players.map((p) => (
                <tr key={p.player_id} data-testid="player-row">
                  <td>{p.seat}</td>
                  <th scope="row">{p.name} <span className="muted"><code>{p.player_id}</code></span></th>
                  <td>{p.team}</td>
                  <td>{p.connected ? (p.slow_for_s !== null ? <span className="ops-late">slow for {seconds(p.slow_for_s)}</span> : "connected")
                    : <span className="ops-late">dropped {seconds(p.dropped_for_s)} ago</span>}</td>
                  <td>{p.score ?? "—"}</td>
                  <td>{p.inputs_waiting}</td>
                  <td>{p.last_input_seq} / {p.last_applied_seq}</td>
                  <td>{p.send_backlog_bytes} B</td>
                  <td>
                    <button type="button" className="button-danger" onClick={() => setKicking(p)}>
                      Kick<span className="visually-hidden"> {p.name}</span>
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      {kicking && (
        <KickForm serverId={serverId} matchId={room.match_id} player={kicking} onDone={(text) => {
          setKicking(null);
          if (text) onKicked(text);
        }} />
      )}
    </article>
  );
}

function KickForm({ serverId, matchId, player, onDone }: {
  serverId: string; matchId: string; player: AdminPlayer; onDone: (text: string | null) => void;
}) {
  const dispatch = useAppDispatch();
  const token = useServiceToken();
  const [reason, setReason] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (ev: React.FormEvent) => {
    ev.preventDefault();
    if (!reason.trim()) {
      setError("Say why: the player is shown the reason.");
      return;
    }
    setBusy(true);
    try {
      await opsApi.kick(token, serverId, matchId, player.player_id, reason.trim());
      dispatch(playerKicked({ serverId, matchId, playerId: player.player_id }));
      onDone(`Kicked ${player.name} from match ${matchId}.`);
    } catch (err) {
      setError(opsProblem(err, "gateway"));
      setBusy(false);
    }
  };
  const id = `ops-kick-${matchId}-${player.seat}`;
  return (
    <form className="ops-kick" onSubmit={submit} aria-label={`Kick ${player.name}`}>
      <div className="field">
        <label htmlFor={id}>Reason for kicking {player.name}</label>
        <input id={id} value={reason} maxLength={200} onChange={(ev) => setReason(ev.target.value)}
          aria-invalid={error ? true : undefined} autoFocus />
      </div>
      {error && <p role="alert">{error}</p>}
      <div className="row">
        <button type="submit" className="button-danger" disabled={busy}>Kick {player.name}</button>
        <button type="button" className="button-secondary" onClick={() => onDone(null)}>Cancel</button>
      </div>
    </form>
  );
}
