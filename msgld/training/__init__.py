"""Lightning wrappers around the pure models in msgld.models, and the shared trainer setup."""
