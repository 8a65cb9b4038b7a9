export { StoragePage as default } from "@/features/storage/components/StoragePage";
