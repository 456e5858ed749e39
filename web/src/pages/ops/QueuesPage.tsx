import { useState } from "react";
import { opsApi } from "../../features/ops/opsApi";
import { loadFailed, queuesLoaded } from "../../features/ops/opsSlice";
import { useAppDispatch, useAppSelector } from "../../store";
import { OpsPage, opsProblem, seconds, TableWrap, usePoll, useServiceToken } from "./common";

/** `/ops/queues`: tickets waiting per mode, the oldest wait, recent waits. */
export function QueuesPage() {
  const dispatch = useAppDispatch();
  const token = useServiceToken();
  const queues = useAppSelector((s) => s.ops.queues);
  const error = useAppSelector((s) => s.ops.errors.queues);
  const updatedAt = useAppSelector((s) => s.ops.updatedAt.queues);
  const [auto, setAuto] = useState(true);
  const refresh = usePoll(async () => {
    try {
      dispatch(queuesLoaded(await opsApi.queues(token)));
    } catch (err) {
      dispatch(loadFailed({ section: "queues", message: opsProblem(err, "matchmaker") }));
    }
  }, auto);
  return (
    <OpsPage title="Queues" updatedAt={updatedAt} auto={auto} onAuto={setAuto} onRefresh={refresh}>
      {error && <p role="alert">{error}</p>}
      {queues === null && !error && <p>Loading…</p>}
      {queues && queues.length === 0 && <p>The matchmaker has no queue modes.</p>}
      {queues && queues.length > 0 && (
        <TableWrap label="Queues by mode">
          <table className="ops-table">
            <caption className="visually-hidden">Queues by mode</caption>
            <thead>
              <tr><th scope="col">Mode</th><th scope="col">Tickets waiting</th><th scope="col">Players waiting</th>
                <th scope="col">Oldest wait</th><th scope="col">Recent wait p50</th><th scope="col">Recent wait p90</th>
                <th scope="col">Matched recently</th><th scope="col">By region</th></tr>
            </thead>
            <tbody>
              {queues.map((q) => (
                <tr key={q.mode} data-testid="queue-row">
                  <th scope="row">{q.mode}</th>
                  <td>{q.tickets_waiting}</td>
                  <td>{q.players_waiting}</td>
                  <td>{seconds(q.oldest_wait_s)}</td>
                  <td>{seconds(q.wait_p50_s)}</td>
                  <td>{seconds(q.wait_p90_s)}</td>
                  <td>{q.recent_matched_tickets}</td>
                  <td>{Object.entries(q.regions).map(([r, n]) => `${r}: ${n}`).join(", ") || "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
    </OpsPage>
  );
}
