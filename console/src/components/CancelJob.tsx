// Cancel a running backup or verification (operators): asked first, then the API stops the
// job; a backup's dump stops and nothing is stored, its record becomes cancelled.
import { useState } from "react";

import { useCancelJob } from "@/hooks/use-running-jobs";
import { useCan } from "@/lib/caller";

import { ConfirmDialog } from "./ConfirmDialog";

export function CancelJob({
  instanceId,
  what,
  backup,
  onCancelled,
}: {
  instanceId: string;
  what: string;
  backup: boolean;
  onCancelled?: (instanceId: string) => void;
}) {
  const operator = useCan("operator");
  const cancel = useCancelJob();
  const [asking, setAsking] = useState(false);
  if (!operator) return null;
  return (
    <>
      <button type="button" className="danger" onClick={() => { cancel.reset(); setAsking(true); }} aria-label={`Cancel ${what}`}>
        Cancel
      </button>
      <ConfirmDialog
        open={asking}
        title={`Cancel the ${what}?`}
        confirmLabel="Stop the job"
        backLabel="Keep it running"
        danger
        pending={cancel.isPending}
        error={cancel.error}
        onClose={() => setAsking(false)}
        onConfirm={() =>
          cancel.mutate(instanceId, {
            onSuccess: () => {
              setAsking(false);
              onCancelled?.(instanceId);
            },
          })
        }
      >
        <p>
          {backup
            ? "The dump stops and nothing is stored; the backup is recorded as cancelled and the database and server are free for the next job."
            : "The verification stops; the backup itself is not changed."}
        </p>
      </ConfirmDialog>
    </>
  );
}
