"""Process lifecycle: settings, logging, the gRPC and HTTP servers, start and graceful stop."""
