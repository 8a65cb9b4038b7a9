export { AuditPage as default } from "@/features/audit/components/AuditPage";
