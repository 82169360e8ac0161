"""Native plugins the host loads by default: clock, weather and email."""
