"""The in-process venue: the order path's gateway to the simulator's matching engine, called directly."""
