"""Sales planning: account potential, territory design, quotas, capacity and compensation."""
