import { useState } from "react";
import { Link } from "react-router";

import { HeatLegend, HeatStrip } from "@/components/HeatStrip";
import { PageHeader, Section } from "@/components/PageHeader";
import { SelectField } from "@/components/Field";
import { QueryState } from "@/components/QueryState";
import { useCalendar } from "@/hooks/use-calendar";
import { formatTime } from "@/lib/format";

export function HistoryPage() {
  const [days, setDays] = useState(14);
  const calendar = useCalendar(undefined, days);
  return (
    <>
      <PageHeader title="History" lead="One cell per slot of each database's policy, oldest on the left.">
        <SelectField label="Period" value={days} onChange={(event) => setDays(Number(event.target.value))}>
          <option value={7}>7 days</option>
          <option value={14}>14 days</option>
          <option value={30}>30 days</option>
          <option value={90}>90 days</option>
        </SelectField>
      </PageHeader>
      <HeatLegend />
      <QueryState query={calendar} what="the calendar">
        {(data) =>
          data.rows.length === 0 ? (
            <p className="empty">No database is configured yet.</p>
          ) : (
            data.rows.map((row) => (
              <Section key={row.database_id} title={row.name}>
                <p className="muted">
                  <Link to={`/databases/${row.database_id}`}>{row.database_id}</Link> · policy {row.policy_id ?? "none"} ·{" "}
                  {formatTime(data.start)} – {formatTime(data.end)}
                </p>
                <HeatStrip label={`Slots of ${row.name}`} cells={row.slots} />
                {row.manual.length ? (
                  <>
                    <h3>Manual backups</h3>
                    <HeatStrip label={`Manual backups of ${row.name}`} cells={row.manual} />
                  </>
                ) : null}
              </Section>
            ))
          )
        }
      </QueryState>
    </>
  );
}
