"""Recipes: the notebook templates of the launcher, listed and copied into the root folder."""

from __future__ import annotations

import tornado.web
from pydantic import BaseModel, Field

from ai4geo_lab.server.base import BaseHandler, json_errors


class CopyBody(BaseModel):
    """``{dest?}``: where to copy a recipe."""

    dest: str | None = Field(None, description="folder inside the server's root (default: the root)")


class RecipesHandler(BaseHandler):
    """GET: the recipes (name, file, title, summary)."""

    @tornado.web.authenticated
    @json_errors
    async def get(self) -> None:
        from ai4geo_lab.recipes import list_recipes

        self.reply(list_recipes(self.ai4geo["config"].recipes_dir))


class RecipeHandler(BaseHandler):
    """POST {dest?}: copy the template into the root folder (or a sub-folder of it); answers its Lab path."""

    @tornado.web.authenticated
    @json_errors
    async def post(self, name: str) -> None:
        from ai4geo_lab.geo.paths import confine, relative_to
        from ai4geo_lab.recipes import copy_recipe

        body = self.parse(CopyBody)
        dest = confine(self.root_dir, body.dest or "")
        path = await self.call(copy_recipe, name, dest, self.ai4geo["config"].recipes_dir)
        self.reply({"path": relative_to(self.root_dir, path)}, 201)
