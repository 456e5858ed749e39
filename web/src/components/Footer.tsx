import { useEffect, useState } from "react";
import { Link } from "react-router-dom";
import { api } from "../api";

export interface GatewayStatus {
  version: string;
  services: Record<string, { ready: boolean }>;
  grafana_url: string | null;
}

const POLL_MS = 30_000;

/** Reads `GET /api/gateway/v1/status` now and every half minute; null while unknown or unreachable. */
export function useGatewayStatus(): { status: GatewayStatus | null; failed: boolean } {
  const [status, setStatus] = useState<GatewayStatus | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let live = true;
    const read = async () => {
      try {
        const s = await api.request<GatewayStatus>("gateway", "/api/gateway/v1/status", { token: null });
        if (live) {
          setStatus(s);
          setFailed(false);
        }
      } catch {
        if (live) setFailed(true);
      }
    };
    void read();
    const timer = setInterval(read, POLL_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, []);
  return { status, failed };
}

export function Footer() {
  const { status, failed } = useGatewayStatus();
  const services = status ? Object.entries(status.services) : [];
  return (
    <footer className="footer">
      <nav aria-label="Footer" className="footer-links">
        <Link to="/">About</Link>
        <Link to="/watch">Live matches</Link>
        {status?.grafana_url && <a href={status.grafana_url} rel="noreferrer" target="_blank">Dashboards</a>}
      </nav>
      <section className="footer-status" aria-label="Service status">
        <h2 className="visually-hidden">Service status</h2>
        {failed && !status && <span className="footer-service footer-service-down">Status unavailable</span>}
        {!failed && !status && <span className="footer-service">Checking services…</span>}
        <ul className="footer-services">
          {services.map(([name, s]) => (
            <li key={name} className={`footer-service ${s.ready ? "footer-service-up" : "footer-service-down"}`} data-testid="service-status">
              <span aria-hidden="true" className="footer-dot" />
              {name}: {s.ready ? "up" : "down"}
            </li>
          ))}
        </ul>
      </section>
      <p className="footer-version">Elysium {__ELYSIUM_VERSION__}</p>
    </footer>
  );
}
