export { SystemPage as default } from "@/features/system/components/SystemPage";
