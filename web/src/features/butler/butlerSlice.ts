import { createSlice } from "@reduxjs/toolkit";

// Placeholder: the butler pages' state.
const butlerSlice = createSlice({ name: "butler", initialState: {}, reducers: {} });
export default butlerSlice.reducer;
