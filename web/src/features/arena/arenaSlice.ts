import { createSlice } from "@reduxjs/toolkit";

// Placeholder: the arena pages' state.
const arenaSlice = createSlice({ name: "arena", initialState: {}, reducers: {} });
export default arenaSlice.reducer;
