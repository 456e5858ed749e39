import { configureStore } from "@reduxjs/toolkit";
import { useDispatch, useSelector } from "react-redux";
import session, { persistSession } from "./features/session/sessionSlice";
import arena from "./features/arena/arenaSlice";
import spectate from "./features/spectate/spectateSlice";
import market from "./features/market/marketSlice";
import butler from "./features/butler/butlerSlice";
import ops from "./features/ops/opsSlice";

export function makeStore() {
  const store = configureStore({ reducer: { session, arena, spectate, market, butler, ops } });
  let last = store.getState().session;
  store.subscribe(() => {
    const now = store.getState().session;
    if (now !== last) {
      last = now;
      persistSession(now);
    }
  });
  return store;
}

export const store = makeStore();
export type AppStore = ReturnType<typeof makeStore>;
export type RootState = ReturnType<AppStore["getState"]>;
export type AppDispatch = AppStore["dispatch"];
export const useAppDispatch = useDispatch.withTypes<AppDispatch>();
export const useAppSelector = useSelector.withTypes<RootState>();
