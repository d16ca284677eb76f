"""Programs that tests run in their own interpreters, written as their authors would, never for mesos-auth."""
