"""pytest plugin (fixtures come with the emulator)."""
