"""The planner page: a small Flask app over the in-process ranker (see recommender.web.app)."""
