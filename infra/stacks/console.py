"""The HR console's sign-in (docs/console.md): a Cognito user pool with the managed login
(authorization code + PKCE, callback <PublicUrl>/console/auth/callback), a public app client (no
secret: PKCE proves the code's owner), the role groups, and optional federation to the company's
Google Workspace or Microsoft Entra ID (SAML or OIDC).

Deploy-time choices (CDK context, `cdk deploy -c name=value`):
  consoleTenants      tenants whose groups are made now, comma-separated ("acme,globex"): <t>:admin,
                      <t>:editor, <t>:viewer (platform-admin always). More later with `aws cognito-idp create-group`.
  consoleIdp          "saml" or "oidc" to federate (none by default: users of the pool only)
  consoleIdpName      the provider's name on the managed login's button ("GoogleWorkspace", "EntraID")
Parameters (`--parameters Name=value`): ConsoleDomainPrefix (the managed login's domain, unique in the
region); with saml: ConsoleSamlMetadataUrl; with oidc: ConsoleOidcIssuer, ConsoleOidcClientId, and the
client secret in Secrets Manager under relations-hub/<stage>/console-oidc-client-secret."""
from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from constructs import Construct

ROLES = ("admin", "editor", "viewer")
EMAIL_CLAIM = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"


def console_pool(stack: cdk.Stack, stage: str, public_url: str) -> dict[str, str]:
    """Build the pool, its managed login and client; the hub's environment for it."""
    scope: Construct = stack
    prefix = cdk.CfnParameter(scope, "ConsoleDomainPrefix", type="String", default=f"relations-hub-{stage}-console",
                              allowed_pattern="^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$",
                              description="prefix of the console's managed login domain "
                                          "(<prefix>.auth.<region>.amazoncognito.com), unique in the region")
    pool = cognito.UserPool(
        scope, "ConsoleUsers", user_pool_name=f"relations-hub-{stage}-console", self_sign_up_enabled=False,
        sign_in_aliases=cognito.SignInAliases(username=True, email=True),
        mfa=cognito.Mfa.OPTIONAL, mfa_second_factor=cognito.MfaSecondFactor(sms=False, otp=True),
        password_policy=cognito.PasswordPolicy(min_length=12, require_digits=True, require_lowercase=True,
                                               require_uppercase=True, require_symbols=True,
                                               temp_password_validity=cdk.Duration.days(3)),
        account_recovery=cognito.AccountRecovery.EMAIL_ONLY, feature_plan=cognito.FeaturePlan.ESSENTIALS,
        deletion_protection=True, removal_policy=cdk.RemovalPolicy.RETAIN)
    providers = [cognito.UserPoolClientIdentityProvider.COGNITO]
    federated = _federation(scope, stage, pool)
    if federated is not None:
        providers.append(cognito.UserPoolClientIdentityProvider.custom(federated.provider_name))
    client = pool.add_client(
        "ConsoleClient", user_pool_client_name="console", generate_secret=False,
        auth_flows=cognito.AuthFlow(user_srp=True), prevent_user_existence_errors=True,
        supported_identity_providers=providers,
        o_auth=cognito.OAuthSettings(
            flows=cognito.OAuthFlows(authorization_code_grant=True),
            scopes=[cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, cognito.OAuthScope.PROFILE],
            callback_urls=[f"{public_url}/console/auth/callback"], logout_urls=[f"{public_url}/console/sign-in"]),
        id_token_validity=cdk.Duration.minutes(60), access_token_validity=cdk.Duration.minutes(60),
        refresh_token_validity=cdk.Duration.hours(8), enable_token_revocation=True)
    domain = pool.add_domain("ConsoleLogin", cognito_domain=cognito.CognitoDomainOptions(domain_prefix=prefix.value_as_string),
                             managed_login_version=cognito.ManagedLoginVersion.NEWER_MANAGED_LOGIN)
    cognito.CfnManagedLoginBranding(scope, "ConsoleLoginBranding", user_pool_id=pool.user_pool_id,
                                    client_id=client.user_pool_client_id, use_cognito_provided_values=True)
    tenants = [t.strip() for t in str(scope.node.try_get_context("consoleTenants") or "").split(",") if t.strip()]
    groups = ["platform-admin"] + [f"{tenant}:{role}" for tenant in tenants for role in ROLES]
    for index, group in enumerate(groups):
        cognito.CfnUserPoolGroup(scope, f"ConsoleGroup{index}", user_pool_id=pool.user_pool_id, group_name=group,
                                 description="HR console role (docs/console.md)")
    cdk.CfnOutput(scope, "ConsoleSignInUrl", value=f"{public_url}/console/sign-in")
    cdk.CfnOutput(scope, "ConsoleUserPoolId", value=pool.user_pool_id)
    return {"HUB_CONSOLE_ISSUER": pool.user_pool_provider_url, "HUB_CONSOLE_CLIENT_ID": client.user_pool_client_id,
            "HUB_CONSOLE_LOGIN_URL": domain.base_url()}


def _federation(scope: Construct, stage: str, pool: cognito.UserPool) -> cognito.UserPoolIdentityProviderBase | None:
    kind = scope.node.try_get_context("consoleIdp")
    name = str(scope.node.try_get_context("consoleIdpName") or "CompanySSO")
    if kind == "saml":
        metadata = cdk.CfnParameter(scope, "ConsoleSamlMetadataUrl", type="String", allowed_pattern="^https://[^\\s]+$",
                                    description="the IdP's SAML metadata URL (Google Workspace or Entra ID enterprise app)")
        return cognito.UserPoolIdentityProviderSaml(
            scope, "ConsoleSaml", user_pool=pool, name=name,
            metadata=cognito.UserPoolIdentityProviderSamlMetadata.url(metadata.value_as_string),
            attribute_mapping=cognito.AttributeMapping(email=cognito.ProviderAttribute.other(EMAIL_CLAIM)))
    if kind == "oidc":
        issuer = cdk.CfnParameter(scope, "ConsoleOidcIssuer", type="String", allowed_pattern="^https://[^\\s]+$",
                                  description="the IdP's OIDC issuer (https://accounts.google.com, "
                                              "https://login.microsoftonline.com/<tenant id>/v2.0)")
        client_id = cdk.CfnParameter(scope, "ConsoleOidcClientId", type="String", description="the IdP app's client id")
        # a dynamic reference ({{resolve:secretsmanager:...}}): CloudFormation reads it, the template never holds it
        secret = cdk.SecretValue.secrets_manager(f"relations-hub/{stage}/console-oidc-client-secret")
        return cognito.UserPoolIdentityProviderOidc(
            scope, "ConsoleOidc", user_pool=pool, name=name, client_id=client_id.value_as_string,
            client_secret=secret.unsafe_unwrap(), issuer_url=issuer.value_as_string, scopes=["openid", "email", "profile"],
            attribute_request_method=cognito.OidcAttributeRequestMethod.GET,
            attribute_mapping=cognito.AttributeMapping(email=cognito.ProviderAttribute.other("email")))
    if kind not in (None, ""):
        raise ValueError("consoleIdp is saml, oidc or absent")
    return None


# -- e18-admin: the console's users screen ---------------------------------------------------------
# What the API function calls on the pool (chalicelib/adapters/console_users.py): on this pool only.
USER_ADMIN_ACTIONS = ("cognito-idp:ListUsersInGroup", "cognito-idp:ListUsers", "cognito-idp:AdminGetUser",
                      "cognito-idp:AdminListGroupsForUser", "cognito-idp:AdminCreateUser",
                      "cognito-idp:AdminAddUserToGroup", "cognito-idp:AdminRemoveUserFromGroup",
                      "cognito-idp:AdminDisableUser", "cognito-idp:AdminEnableUser")


def grant_user_admin(stack: cdk.Stack, role: iam.IRole) -> None:
    """Let the role manage the console pool's users and their groups (the users screen), nothing else."""
    pool = stack.node.find_child("ConsoleUsers")
    assert isinstance(pool, cognito.UserPool)
    role.add_to_principal_policy(iam.PolicyStatement(actions=list(USER_ADMIN_ACTIONS), resources=[pool.user_pool_arn]))
