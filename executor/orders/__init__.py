"""The order path: from an OrderRequest to a booked fill, exactly once; reconciliation."""
