export { PolicyPage as default } from "@/features/policies/components/PolicyPage";
