"""The neural-network heuristic of the FSM swarm (Charlesworth & Turner, PNAS 2019; the talk's
"Can we do this without a full search of future states?"): record FSM decisions
(:mod:`baselines.swarm_heuristic.record`, numpy only) and train an MLP on them
(:mod:`baselines.swarm_heuristic.train`, torch). The trained weights run without torch in
:mod:`swarm_gym.heuristic`.
"""
