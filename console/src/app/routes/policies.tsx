export { PoliciesPage as default } from "@/features/policies/components/PoliciesPage";
