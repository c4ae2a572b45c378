// esbuild bundles the stylesheet the app imports into assets/app.css.
declare module "*.css";
