import { useId } from "react";

/**
 * The region to play in: any name the game servers advertise. The lobby suggests those the
 * queues report (or the local stack's `local`); a player who knows another may type it.
 */
export function RegionField({ value, regions, onChange, disabled }: { value: string; regions: string[]; onChange: (v: string) => void; disabled?: boolean }) {
  const list = useId();
  return (
    <label>
      Region
      <input
        list={list}
        value={value}
        onChange={(e) => onChange(e.target.value.trim().toLowerCase())}
        pattern="[a-z0-9\-]{1,32}"
        maxLength={32}
        autoComplete="off"
        spellCheck={false}
        required
        disabled={disabled}
      />
      <datalist id={list}>
        {regions.map((r) => (
          <option key={r} value={r} />
        ))}
      </datalist>
    </label>
  );
}
