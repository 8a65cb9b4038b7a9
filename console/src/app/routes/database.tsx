export { DatabasePage as default } from "@/features/databases/components/DatabasePage";
