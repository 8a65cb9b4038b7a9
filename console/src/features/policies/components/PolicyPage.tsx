// Edit a policy with its next slots recomputed as you type (the API computes them, so the
// preview and the schedule cannot disagree); a wrong field is shown where it is.
import { useEffect, useState, type FormEvent } from "react";
import { useNavigate, useParams } from "react-router";

import { SelectField, TextAreaField, TextField } from "@/components/Field";
import { PageHeader, Section } from "@/components/PageHeader";
import { ErrorMessage, Loading, QueryState } from "@/components/QueryState";
import { useDebounced } from "@/hooks/use-debounced";
import { Can, useCan } from "@/lib/caller";
import { ApiError, fieldUnder } from "@/lib/errors";
import { formatTime } from "@/lib/format";

import { useDeletePolicy, usePolicy, useSavePolicy, useSlotPreview, type PolicyPreviewBody } from "../api/policies";
import { ACCESS_TIERS, draftFrom, previewBody, saveBody, TIERS, type AccessTierName, type PolicyDraft, type TierName } from "../draft";

const NEW = "_new";
const WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
const ZONES = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];

export function PolicyPage() {
  const { policyId = NEW } = useParams();
  const creating = policyId === NEW;
  const policy = usePolicy(creating ? null : policyId);
  if (!creating && (policy.isPending || policy.error)) {
    return policy.error ? <ErrorMessage error={policy.error} title="Could not load the policy" /> : <Loading what="Loading the policy" />;
  }
  return <PolicyEditor key={policyId} policyId={creating ? null : policyId} initial={draftFrom(policy.data)} />;
}

function PolicyEditor({ policyId, initial }: { policyId: string | null; initial: PolicyDraft }) {
  const [draft, setDraft] = useState(initial);
  const admin = useCan("admin");
  const save = useSavePolicy(policyId);
  const remove = useDeletePolicy(policyId ?? "");
  const navigate = useNavigate();
  const settled = useDebounced(draft, 300);
  const preview = useSlotPreview(previewBody(settled) as PolicyPreviewBody, true);
  const [saved, setSaved] = useState(false);
  useEffect(() => setSaved(false), [draft]);
  const previewFields = preview.error instanceof ApiError ? preview.error.fields : {};
  const saveFields = save.error instanceof ApiError ? save.error.fields : {};
  const fields = { ...previewFields, ...saveFields };

  function setTier(tier: TierName, name: string, value: string | boolean) {
    setDraft((current) => ({
      ...current,
      tiers: { ...current.tiers, [tier]: { ...current.tiers[tier], [name]: value } },
    }));
  }
  function submit(event: FormEvent) {
    event.preventDefault();
    save.mutate(saveBody(draft, policyId === null), {
      onSuccess: (policy) => {
        setSaved(true);
        if (policyId === null) void navigate(`/policies/${policy.id}`, { replace: true });
      },
    });
  }
  const tierField = (tier: TierName, name: string, label: string, props: Record<string, unknown> = {}) => (
    <TextField
      label={label}
      value={draft.tiers[tier][name as keyof PolicyDraft["tiers"][TierName]] as string}
      onChange={(event) => setTier(tier, name, event.target.value)}
      error={fields[`${tier}.${name}`]}
      disabled={!admin}
      {...props}
    />
  );
  return (
    <>
      <PageHeader title={policyId === null ? "New policy" : draft.name || policyId}>
        <Can role="admin">
          {policyId !== null ? (
            <button
              type="button"
              className="danger"
              onClick={() => {
                if (window.confirm("Delete this policy? It must not be used by any database or server.")) {
                  remove.mutate(undefined, { onSuccess: () => void navigate("/policies") });
                }
              }}
            >
              Delete
            </button>
          ) : null}
        </Can>
      </PageHeader>
      {remove.error ? <ErrorMessage error={remove.error} title="Not deleted" /> : null}
      <div className="grid-2">
        <form className="form card" onSubmit={submit} noValidate aria-label="Policy">
          {save.error && !Object.keys(saveFields).length ? <ErrorMessage error={save.error} title="Not saved" /> : null}
          <TextField label="Name" value={draft.name} onChange={(e) => setDraft({ ...draft, name: e.target.value })} error={fields.name} disabled={!admin} />
          {policyId === null ? (
            <TextField label="Id (optional)" value={draft.id} onChange={(e) => setDraft({ ...draft, id: e.target.value })} error={fields.id} hint="generated from the name when empty" />
          ) : null}
          <TextField label="Description" value={draft.description} onChange={(e) => setDraft({ ...draft, description: e.target.value })} error={fields.description} disabled={!admin} />
          <TextField
            label="Time zone"
            list="time-zones"
            value={draft.timezone}
            onChange={(e) => setDraft({ ...draft, timezone: e.target.value })}
            error={fields.timezone}
            hint="IANA name, e.g. Europe/Madrid"
            disabled={!admin}
          />
          <datalist id="time-zones">
            {ZONES.map((zone) => (
              <option key={zone} value={zone} />
            ))}
          </datalist>
          {TIERS.map((tier) => (
            <fieldset key={tier} className="tier">
              <legend>
                <label>
                  <input type="checkbox" checked={draft.tiers[tier].on} onChange={(e) => setTier(tier, "on", e.target.checked)} disabled={!admin} />{" "}
                  {tier}
                </label>
              </legend>
              {draft.tiers[tier].on ? (
                <div className="row">
                  {tierField(tier, "keep_count", "Keep", { inputMode: "numeric" })}
                  {tier === "hourly" ? (
                    <>
                      {tierField(tier, "every_hours", "Every (hours)", { inputMode: "numeric" })}
                      {tierField(tier, "minute", "At minute", { inputMode: "numeric" })}
                    </>
                  ) : (
                    tierField(tier, "time", "At (HH:MM)")
                  )}
                  {tier === "weekly" ? (
                    <SelectField label="On" value={draft.tiers[tier].weekday} onChange={(e) => setTier(tier, "weekday", e.target.value)} error={fields["weekly.weekday"]} disabled={!admin}>
                      {WEEKDAYS.map((day) => (
                        <option key={day} value={day}>{day}</option>
                      ))}
                    </SelectField>
                  ) : null}
                  {tier === "yearly" ? tierField(tier, "month", "Month", { inputMode: "numeric" }) : null}
                  {tier === "monthly" || tier === "yearly" ? tierField(tier, "day", "Day", { inputMode: "numeric" }) : null}
                </div>
              ) : null}
              {fields[tier] ? <small className="field-error" role="alert">{fields[tier]}</small> : null}
            </fieldset>
          ))}
          <fieldset className="tier protection">
            <legend>Protection and storage</legend>
            <div className="table-wrap">
              <table>
                <caption className="visually-hidden">Immutability and access tier per backup tier</caption>
                <thead>
                  <tr>
                    <th scope="col">Backup tier</th>
                    <th scope="col">Immutable</th>
                    <th scope="col">Access tier</th>
                  </tr>
                </thead>
                <tbody>
                  {TIERS.map((tier) => (
                    <tr key={tier}>
                      <th scope="row">{tier}</th>
                      <td>
                        <input
                          type="checkbox"
                          aria-label={`Immutable ${tier} backups`}
                          checked={draft.immutable[tier]}
                          onChange={(e) => setDraft((current) => ({ ...current, immutable: { ...current.immutable, [tier]: e.target.checked } }))}
                          disabled={!admin}
                        />
                      </td>
                      <td>
                        <select
                          aria-label={`Access tier of ${tier} backups`}
                          value={draft.access[tier]}
                          onChange={(e) => setDraft((current) => ({ ...current, access: { ...current.access, [tier]: e.target.value as AccessTierName } }))}
                          disabled={!admin}
                        >
                          {ACCESS_TIERS.map((access) => (
                            <option key={access} value={access}>{access}</option>
                          ))}
                        </select>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <p className="muted">
              Nobody (admins and the service included) can delete or overwrite a backup of an immutable tier until its tier
              would keep it to; this needs immutability switched on in the service's settings. A backup takes the hottest
              access tier of the tiers keeping it; an archived one must be rehydrated (up to 15 hours) before it can be read.
            </p>
            {fieldUnder(fields, "immutable_tiers") ? <small className="field-error" role="alert">Immutable tiers: {fieldUnder(fields, "immutable_tiers")}</small> : null}
            {fieldUnder(fields, "access_tiers") ? <small className="field-error" role="alert">Access tiers: {fieldUnder(fields, "access_tiers")}</small> : null}
            <TextAreaField
              label="Extra encryption recipients"
              rows={3}
              value={draft.recipients}
              onChange={(e) => setDraft({ ...draft, recipients: e.target.value })}
              error={fieldUnder(fields, "encryption_recipients")}
              hint="age1… public keys, one a line: this policy's backups are also encrypted to them (a break-glass key you keep offline, say)"
              disabled={!admin}
              spellCheck={false}
            />
          </fieldset>
          {admin ? (
            <div className="actions">
              <button type="submit" className="primary" disabled={save.isPending}>
                {save.isPending ? "Saving…" : policyId === null ? "Create policy" : "Save"}
              </button>
              {saved ? <span role="status" className="muted">Saved.</span> : null}
            </div>
          ) : null}
        </form>
        <Section title="Next slots">
          <p className="muted">Recomputed by the service as you type; nothing is saved.</p>
          <QueryState query={{ ...preview, error: preview.data ? null : preview.error }} what="the next slots">
            {(data) =>
              data.slots.length ? (
                <ol className="plain-list" data-testid="slot-preview">
                  {data.slots.map((slot) => (
                    <li key={slot.at}>
                      <strong>{formatTime(slot.at)}</strong> — {slot.tiers.join(", ")}
                    </li>
                  ))}
                </ol>
              ) : (
                <p className="empty">No tier is on: this policy never runs.</p>
              )
            }
          </QueryState>
          {preview.error && preview.data ? <p className="field-error" role="alert">Fix the highlighted fields to update the preview.</p> : null}
        </Section>
      </div>
    </>
  );
}
