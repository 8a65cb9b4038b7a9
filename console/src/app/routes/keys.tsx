export { KeysPage as default } from "@/features/keys/components/KeysPage";
