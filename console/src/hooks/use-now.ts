import { useEffect, useState } from "react";

/** The time now, renewed every `every` ms while `active` (elapsed times that count up even
 * when the data behind them has not changed). */
export function useNow(active: boolean, every = 1000): Date {
  const [now, setNow] = useState(() => new Date());
  useEffect(() => {
    if (!active) return undefined;
    const timer = window.setInterval(() => setNow(new Date()), every);
    return () => window.clearInterval(timer);
  }, [active, every]);
  return now;
}
