// The one API client the pages share; the session slice keeps its token current.
import { Api } from "@elysium/sdk";

export const api = new Api("");
