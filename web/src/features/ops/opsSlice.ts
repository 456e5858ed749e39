import { createSlice } from "@reduxjs/toolkit";

// Placeholder: the ops pages' state.
const opsSlice = createSlice({ name: "ops", initialState: {}, reducers: {} });
export default opsSlice.reducer;
