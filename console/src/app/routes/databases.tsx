export { DatabasesPage as default } from "@/features/databases/components/DatabasesPage";
