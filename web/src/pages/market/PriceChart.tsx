import { useId } from "react";
import { chartGeometry, historySummary, money, when } from "../../features/market/format";
import type { Currency, PricePoint } from "../../features/market/types";

const W = 560;
const H = 220;

/** A line of the unit prices paid over time, drawn in SVG, with the same facts in words. */
export function PriceChart({ history, currency }: { history: PricePoint[]; currency: Currency }) {
  const id = useId();
  const g = chartGeometry(history, W, H);
  const summary = historySummary(history, currency);
  if (!history.length) return <p className="market-muted" data-testid="price-chart">{summary}</p>;
  return (
    <figure className="market-chart" data-testid="price-chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby={`${id}-title`} aria-describedby={`${id}-desc`}
        preserveAspectRatio="xMidYMid meet">
        <title id={`${id}-title`}>Price history</title>
        <desc id={`${id}-desc`}>{summary}</desc>
        <rect x="0" y="0" width={W} height={H} className="market-chart-bg" />
        {g.yTicks.map((t) => (
          <g key={t.y}>
            <line x1={32} x2={W - 32} y1={t.y} y2={t.y} className="market-chart-grid" />
            <text x={34} y={t.y - 4} className="market-chart-label">{money(t.price, currency)}</text>
          </g>
        ))}
        {g.points.length > 1 ? <path d={g.path} className="market-chart-line" fill="none" /> : null}
        {g.points.map((p, i) => (
          <circle key={i} cx={p.x} cy={p.y} r={4} className="market-chart-dot">
            <title>{`${money(p.price, currency)} on ${when(p.at)}`}</title>
          </circle>
        ))}
        {history.length ? (
          <>
            <text x={32} y={H - 8} className="market-chart-label">{when(history[0].at)}</text>
            <text x={W - 32} y={H - 8} textAnchor="end" className="market-chart-label">{when(history[history.length - 1].at)}</text>
          </>
        ) : null}
      </svg>
      <figcaption>{summary}</figcaption>
    </figure>
  );
}
