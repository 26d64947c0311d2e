"""Drop-in layers that let code written against another LLM interface run on llmport.

Nothing here is imported by `import llmport`; an app imports the layer it needs:

- `llmport.compat.director`: the `director.llm` surface of video-db/Director.
"""
