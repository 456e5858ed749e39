"""The matchmaker: tickets in, matches on live game servers out, ratings from results."""
