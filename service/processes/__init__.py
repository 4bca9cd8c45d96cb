"""Stored process definitions (流程定义): versions, activation, and migration of running requests."""
