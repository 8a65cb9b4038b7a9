export { ServerPage as default } from "@/features/servers/components/ServerPage";
