// A question before a change that cannot be taken back (or costs something): what will
// happen, in words, then two buttons. Built on Dialog, so Escape and "Back" both leave.
import type { ReactNode } from "react";

import { Dialog } from "./Dialog";
import { ErrorMessage } from "./QueryState";

export function ConfirmDialog({
  open,
  title,
  confirmLabel,
  backLabel = "Back",
  danger = false,
  pending = false,
  error,
  onConfirm,
  onClose,
  children,
}: {
  open: boolean;
  title: string;
  confirmLabel: string;
  backLabel?: string;
  danger?: boolean;
  pending?: boolean;
  error?: unknown;
  onConfirm: () => void;
  onClose: () => void;
  children: ReactNode;
}) {
  return (
    <Dialog open={open} title={title} onClose={onClose}>
      {children}
      {error ? <ErrorMessage error={error} title="Not done" /> : null}
      <div className="actions dialog-actions">
        <button type="button" onClick={onClose}>{backLabel}</button>
        <button
          type="button"
          className={danger ? "danger solid" : "primary"}
          disabled={pending}
          onClick={onConfirm}
        >
          {pending ? "Working…" : confirmLabel}
        </button>
      </div>
    </Dialog>
  );
}
