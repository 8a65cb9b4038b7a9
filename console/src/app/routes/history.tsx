export { HistoryPage as default } from "@/features/history/components/HistoryPage";
