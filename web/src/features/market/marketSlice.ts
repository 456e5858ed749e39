import { createSlice } from "@reduxjs/toolkit";

// Placeholder: the market pages' state.
const marketSlice = createSlice({ name: "market", initialState: {}, reducers: {} });
export default marketSlice.reducer;
