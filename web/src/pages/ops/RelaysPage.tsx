import { useState } from "react";
import { Link } from "react-router-dom";
import { opsApi } from "../../features/ops/opsApi";
import { loadFailed, relaysLoaded } from "../../features/ops/opsSlice";
import { useAppDispatch, useAppSelector } from "../../store";
import { OpsPage, opsProblem, seconds, TableWrap, usePoll } from "./common";

/** `/ops/relays`: the live matches the relays list, with their viewers. */
export function RelaysPage() {
  const dispatch = useAppDispatch();
  const matches = useAppSelector((s) => s.ops.relays);
  const error = useAppSelector((s) => s.ops.errors.relays);
  const updatedAt = useAppSelector((s) => s.ops.updatedAt.relays);
  const [auto, setAuto] = useState(true);
  const refresh = usePoll(async () => {
    try {
      const body = await opsApi.relays();
      dispatch(relaysLoaded({ live: body.live }));
    } catch (err) {
      dispatch(loadFailed({ section: "relays", message: opsProblem(err, "spectator") }));
    }
  }, auto);
  const viewers = (matches || []).reduce((n, m) => n + m.viewers, 0);
  return (
    <OpsPage title="Relays" updatedAt={updatedAt} auto={auto} onAuto={setAuto} onRefresh={refresh}>
      {error && <p role="alert">{error}</p>}
      {matches === null && !error && <p>Loading…</p>}
      {matches && <p>{matches.length} live {matches.length === 1 ? "match" : "matches"}, {viewers} {viewers === 1 ? "viewer" : "viewers"} in all.</p>}
      {matches && matches.length > 0 && (
        <TableWrap label="Live matches and viewers">
          <table className="ops-table">
            <caption className="visually-hidden">Live matches and viewers</caption>
            <thead>
              <tr><th scope="col">Match</th><th scope="col">Mode</th><th scope="col">State</th><th scope="col">Players</th>
                <th scope="col">Viewers</th><th scope="col">Running for</th><th scope="col"><span className="visually-hidden">Watch</span></th></tr>
            </thead>
            <tbody>
              {matches.map((m) => (
                <tr key={m.match_id} data-testid="relay-row">
                  <th scope="row"><code>{m.match_id}</code></th>
                  <td>{m.mode}</td>
                  <td>{m.state}</td>
                  <td>{m.players.map((p) => p.name).join(", ") || "—"}</td>
                  <td>{m.viewers}</td>
                  <td>{seconds(m.elapsed_s)}</td>
                  <td><Link to={`/watch/${encodeURIComponent(m.match_id)}`}>Watch<span className="visually-hidden"> {m.match_id}</span></Link></td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
    </OpsPage>
  );
}
