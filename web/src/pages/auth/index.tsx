export { LoginPage, RegisterPage } from "./forms";
export { ProfilePage } from "./ProfilePage";
export { SettingsPage } from "./SettingsPage";
export { PlayerPage } from "./PlayerPage";
