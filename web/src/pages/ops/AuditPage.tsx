import { opsApi } from "../../features/ops/opsApi";
import { auditLoaded, loadFailed } from "../../features/ops/opsSlice";
import { useAppDispatch, useAppSelector } from "../../store";
import { OpsPage, opsProblem, usePoll, useServiceToken } from "./common";

/** `/ops/audit`: what the last `elysium audit` found. */
export function AuditPage() {
  const dispatch = useAppDispatch();
  const token = useServiceToken();
  const audit = useAppSelector((s) => s.ops.audit);
  const error = useAppSelector((s) => s.ops.errors.audit);
  const updatedAt = useAppSelector((s) => s.ops.updatedAt.audit);
  const refresh = usePoll(async () => {
    try {
      dispatch(auditLoaded({ audit: await opsApi.audit(token) }));
    } catch (err) {
      dispatch(loadFailed({ section: "audit", message: opsProblem(err, "commerce") }));
    }
  }, true, 30_000);
  return (
    <OpsPage title="Audit" updatedAt={updatedAt} onRefresh={refresh}>
      {error && <p role="alert">{error}</p>}
      {audit === undefined && !error && <p>Loading…</p>}
      {audit === null && (
        <p>The audit has never run. Run <code>elysium audit</code> (the hourly job does) and its result shows here.</p>
      )}
      {audit && (
        <section className="card" aria-labelledby="ops-audit-result">
          <h2 id="ops-audit-result" className={audit.ok ? "ops-ok-text" : "ops-bad-text"}>
            {audit.ok ? "Passed" : `Failed: ${audit.problem_count} ${audit.problem_count === 1 ? "problem" : "problems"}`}
          </h2>
          <p>
            Ran {new Date(audit.at).toLocaleString()}
            {audit.took_s !== null && <> in {audit.took_s.toFixed(1)} s</>};{" "}
            {audit.chain_checked ? "the chain was checked too." : "the chain was not checked."}
          </p>
          <table className="ops-table ops-counts">
            <caption>What it checked</caption>
            <tbody>
              {Object.entries(audit.counts).map(([k, v]) => (
                <tr key={k}><th scope="row">{k.replace(/_/g, " ")}</th><td>{v}</td></tr>
              ))}
            </tbody>
          </table>
          {audit.problems.length > 0 && (
            <>
              <h3>Problems{audit.problem_count > audit.problems.length && ` (the first ${audit.problems.length})`}</h3>
              <ul className="ops-problems">
                {audit.problems.map((p, i) => <li key={i}><code>{p}</code></li>)}
              </ul>
            </>
          )}
        </section>
      )}
    </OpsPage>
  );
}
