"""End-to-end tests: real SDKs, real loopback traffic, the fake OpenRouter and the media server."""
