export { ServersPage as default } from "@/features/servers/components/ServersPage";
