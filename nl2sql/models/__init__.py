"""Model backends: OpenAI, Azure OpenAI, compatible servers and the built-in offline model."""
