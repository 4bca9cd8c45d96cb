"""The service catalog (事项): what residents can request, with its form, materials and time limit."""
