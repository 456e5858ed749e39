export { GamePage } from "./GamePage";
export { drawArena, cameraOf, type DrawOptions } from "./render";
