"""Schools: catalogs and fleets, installation plans, offline bundles and a LAN mirror."""
