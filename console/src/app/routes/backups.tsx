export { BackupsPage as default } from "@/features/backups/components/BackupsPage";
