import { createSlice } from "@reduxjs/toolkit";

// Placeholder: the spectate pages' state.
const spectateSlice = createSlice({ name: "spectate", initialState: {}, reducers: {} });
export default spectateSlice.reducer;
